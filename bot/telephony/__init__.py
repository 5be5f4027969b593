"""Carrying calls to and from the phone network: Twilio Media Streams, webhooks, live transfer.

Dependencies point one way: telephony -> pipeline -> brain. This package never decides *what* the bot says; it
connects a caller's audio to a pipeline, checks that webhooks really come from Twilio, and carries out the brain's
transfer action on the live call.
"""
