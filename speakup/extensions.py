"""Flask extensions.  The JWT manager is created unbound and bound in
:func:`speakup.create_app`; an :class:`Api` is made per app, since it holds that app's spec."""

import http
from typing import Any

from flask_jwt_extended import JWTManager
from flask_smorest import Api as _Api
from flask_smorest.utils import prepare_response

from speakup.problems import PROBLEM, http_problem
from speakup.schemas.common import ProblemSchema


class Api(_Api):  # type: ignore[misc]
    """flask-smorest's Api, documenting and answering errors as RFC 9457 problems."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: Any) -> Any:
        return http_problem(error)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


jwt = JWTManager()
