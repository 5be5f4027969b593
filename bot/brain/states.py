"""The states of one call's dialogue: what the receptionist is waiting for from the caller.

A :class:`~enum.StrEnum`, so a state compares equal to its name ("question") in transcripts, call records and the
LLM mode's checks, while code names the states it means and a typo is an AttributeError, not a silent new state.
"""

from __future__ import annotations

from enum import StrEnum


class CallState(StrEnum):
    QUESTION = "question"  # open: the caller asks, the bot answers from the FAQ
    OFFER_HANDOFF = "offer_handoff"  # the FAQ had no answer: "shall I put you through / take a message?"
    CONFIRM_TOPIC = "confirm_topic"  # a near miss: "is this about {topic}?" — yes: its answer; no: the hand-off
    TRANSFERRING = "transferring"  # the secretary's line is ringing; the carrier owns the audio
    NAME = "name"  # message taking: the caller's name
    OFFER_CALLER_ID = "offer_caller_id"  # "shall we call you back on the number you are calling from?"
    NUMBER = "number"  # the callback number, dictated or keyed
    CONFIRM_NUMBER = "confirm_number"  # the number read back for a yes/no or a correction
    CONCERN = "concern"  # what the call is about
    URGENCY = "urgency"  # urgent or not
    ENDED = "ended"  # nothing more is said


MESSAGE_STATES = (CallState.NAME, CallState.OFFER_CALLER_ID, CallState.NUMBER, CallState.CONFIRM_NUMBER,
                  CallState.CONCERN, CallState.URGENCY)
