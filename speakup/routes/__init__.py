"""Thin HTTP: parse -> who is asking -> one service call -> respond."""

from flask_smorest import Api

from speakup.routes import (
    actions,
    audit,
    auth,
    config,
    followup,
    huddle,
    metrics,
    ops,
    org,
    reports,
    webhooks,
)


def register(api: Api) -> None:
    for module in (auth, org, config, reports, followup, actions, audit, metrics, huddle,
                   webhooks):
        api.register_blueprint(module.blp)


__all__ = ["ops", "register"]
