"""Organisation admin: units, users, unit leaders, categories.

Units and categories can be read by anyone (the intake form needs them); only active ones
unless an admin asks.  Everything else is for admins.
"""

from __future__ import annotations

from typing import Any

from speakup.models import Category, Unit, User
from speakup.routes.common import (
    JSON_BODY,
    Blueprint,
    actor_from_token,
    problems,
    reads,
    requires,
    runtime,
)
from speakup.schemas.common import PageArgsSchema
from speakup.schemas.org import (
    CategoryCreateSchema,
    CategoryListArgsSchema,
    CategoryPageSchema,
    CategorySchema,
    CategoryUpdateSchema,
    LeaderAddSchema,
    UnitCreateSchema,
    UnitListArgsSchema,
    UnitPageSchema,
    UnitSchema,
    UnitUpdateSchema,
    UserCreateSchema,
    UserPageSchema,
    UserSchema,
    UserUpdateSchema,
)
from speakup.services import org
from speakup.services.core.pages import Page

blp = Blueprint("organisation", __name__, url_prefix="/api/v1",
                description="Units, users, unit leaders and categories")

def _is_admin() -> bool:
    """Whether an admin is asking, on routes that anyone may call.  A sent token is always
    checked; a bad one is refused as everywhere else."""
    return actor_from_token(optional=True).has_role("admin")


def _page(page: Page[Any]) -> dict[str, Any]:
    return {"items": page.items, "next_cursor": page.next_cursor}


# --- units -----------------------------------------------------------------------------


@blp.route("/units", methods=["GET"])
@blp.arguments(UnitListArgsSchema(), location="query")
@blp.response(200, UnitPageSchema)
def list_units(args: dict[str, Any]) -> dict[str, Any]:
    """Units, oldest first.  Admins may add `include_inactive=true`."""
    include = _is_admin() and bool(args["include_inactive"])  # a sent token is always checked
    return _page(org.list_units(reads(), keys=runtime().keys, include_inactive=include,
                                limit=args["limit"], cursor=args.get("cursor")))


@blp.route("/units", methods=["POST"])
@requires(blp, "admin")
@blp.arguments(UnitCreateSchema())
@blp.response(201, UnitSchema)
@problems(blp, 409, *JSON_BODY)
def create_unit(body: dict[str, Any]) -> Unit:
    """Create a unit, at the top or under a parent."""
    return org.create_unit(runtime().database, clock=runtime().clock, **body)


@blp.route("/units/<unit_id>", methods=["GET"])
@blp.response(200, UnitSchema)
@problems(blp, 404)
def get_unit(unit_id: str) -> Unit:
    """One unit (inactive ones for admins only)."""
    return org.get_unit(reads(), unit_id, include_inactive=_is_admin())


@blp.route("/units/<unit_id>", methods=["PATCH"])
@requires(blp, "admin")
@blp.arguments(UnitUpdateSchema())
@blp.response(200, UnitSchema)
@problems(blp, 404, 409, *JSON_BODY)
def update_unit(body: dict[str, Any], unit_id: str) -> Unit:
    """Rename, move (no cycles), or deactivate with `active: false`."""
    return org.update_unit(runtime().database, unit_id, **body)


@blp.route("/units/<unit_id>/leaders", methods=["GET"])
@requires(blp, "admin")
@blp.response(200, UserSchema(many=True))
@problems(blp, 404)
def list_leaders(unit_id: str) -> list[User]:
    """The leaders of a unit."""
    return org.list_leaders(reads(), unit_id)


@blp.route("/units/<unit_id>/leaders", methods=["POST"])
@requires(blp, "admin")
@blp.arguments(LeaderAddSchema())
@blp.response(201, UserSchema)
@problems(blp, 404, 409, *JSON_BODY)
def add_leader(body: dict[str, Any], unit_id: str) -> User:
    """Make a user with the leader role a leader of this unit."""
    rt = runtime()
    return org.add_leader(rt.database, clock=rt.clock, unit_id=unit_id, user_id=body["user_id"])


@blp.route("/units/<unit_id>/leaders/<user_id>", methods=["DELETE"])
@requires(blp, "admin")
@blp.response(204)
@problems(blp, 404)
def remove_leader(unit_id: str, user_id: str) -> None:
    """End a leader assignment (reports keep their recorded assignees)."""
    org.remove_leader(runtime().database, unit_id=unit_id, user_id=user_id)


# --- users -----------------------------------------------------------------------------


@blp.route("/users", methods=["GET"])
@requires(blp, "admin")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, UserPageSchema)
def list_users(args: dict[str, Any]) -> dict[str, Any]:
    """Every user, active or not, oldest first."""
    return _page(org.list_users(reads(), keys=runtime().keys, limit=args["limit"],
                                cursor=args.get("cursor")))


@blp.route("/users", methods=["POST"])
@requires(blp, "admin")
@blp.arguments(UserCreateSchema())
@blp.response(201, UserSchema)
@problems(blp, 409, *JSON_BODY)
def create_user(body: dict[str, Any]) -> User:
    """Create a user with roles; the e-mail address must be new."""
    rt = runtime()
    return org.create_user(rt.database, clock=rt.clock, passwords=rt.passwords,
                           data=org.NewUser(**body))


@blp.route("/users/<user_id>", methods=["GET"])
@requires(blp, "admin")
@blp.response(200, UserSchema)
@problems(blp, 404)
def get_user(user_id: str) -> User:
    """One user."""
    return org.get_user(reads(), user_id)


@blp.route("/users/<user_id>", methods=["PATCH"])
@requires(blp, "admin")
@blp.arguments(UserUpdateSchema())
@blp.response(200, UserSchema)
@problems(blp, 404, 409, *JSON_BODY)
def update_user(body: dict[str, Any], user_id: str) -> User:
    """Change a user; `active: false` deactivates and ends their sessions."""
    rt = runtime()
    return org.update_user(rt.database, user_id, clock=rt.clock, passwords=rt.passwords,
                           **body)


# --- categories ------------------------------------------------------------------------


@blp.route("/categories", methods=["GET"])
@blp.arguments(CategoryListArgsSchema(), location="query")
@blp.response(200, CategoryPageSchema)
def list_categories(args: dict[str, Any]) -> dict[str, Any]:
    """The categories a report can have, in display order (one page holds them all)."""
    include = _is_admin() and bool(args["include_inactive"])  # a sent token is always checked
    return {"items": org.list_categories(reads(), include_inactive=include), "next_cursor": None}


@blp.route("/categories", methods=["POST"])
@requires(blp, "admin")
@blp.arguments(CategoryCreateSchema())
@blp.response(201, CategorySchema)
@problems(blp, 409, *JSON_BODY)
def create_category(body: dict[str, Any]) -> Category:
    """Add a category."""
    return org.create_category(runtime().database, **body)


@blp.route("/categories/<category_id>", methods=["GET"])
@blp.response(200, CategorySchema)
@problems(blp, 404)
def get_category(category_id: str) -> Category:
    """One category (inactive ones for admins only)."""
    return org.get_category(reads(), category_id, include_inactive=_is_admin())


@blp.route("/categories/<category_id>", methods=["PATCH"])
@requires(blp, "admin")
@blp.arguments(CategoryUpdateSchema())
@blp.response(200, CategorySchema)
@problems(blp, 404, *JSON_BODY)
def update_category(body: dict[str, Any], category_id: str) -> Category:
    """Relabel, reorder, or deactivate with `active: false`."""
    return org.update_category(runtime().database, category_id, **body)

