"""The Twilio side of a Media Stream for the carrier tests: :class:`evals.drivers.twilio_line.TwilioLine`."""

from evals.drivers.twilio_line import FRAME_BYTES, TwilioLine

__all__ = ["FRAME_BYTES", "TwilioLine"]
