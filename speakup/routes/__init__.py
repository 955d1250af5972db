"""Thin HTTP: parse -> who is asking -> one service call -> respond."""

from flask_smorest import Api

from speakup.routes import actions, audit, auth, followup, ops, org, reports


def register(api: Api) -> None:
    for module in (auth, org, reports, followup, actions, audit):
        api.register_blueprint(module.blp)


__all__ = ["ops", "register"]
