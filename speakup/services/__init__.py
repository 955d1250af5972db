"""The domain of speakup.  Nothing in this package imports Flask: routes call in with a
session, a clock and an actor, and services raise :class:`ServiceError` subclasses that carry
an HTTP status and a problem type."""
