"""Organisation administration: units (a tree), users with roles, unit leaders, categories.

Nothing that reports refer to is deleted; it is deactivated.  Every function validates its
input against the database and raises a 4xx :class:`ServiceError`; only two concurrent writers
racing for the same unique value reach the database's constraint (the web layer answers 409).
"""

from speakup.services.org.categories import (
    DEFAULT_CATEGORIES,
    create_category,
    get_category,
    list_categories,
    update_category,
)
from speakup.services.org.people import (
    NewUser,
    add_leader,
    create_user,
    get_user,
    list_leaders,
    list_users,
    remove_leader,
    units_led_by,
    update_user,
)
from speakup.services.org.units import (
    ancestors,
    create_unit,
    get_unit,
    list_units,
    subtree_ids,
    update_unit,
)

__all__ = [
    "DEFAULT_CATEGORIES", "NewUser", "add_leader", "ancestors", "create_category",
    "create_unit", "create_user", "get_category", "get_unit", "get_user", "list_categories",
    "list_leaders", "list_units", "list_users", "remove_leader", "subtree_ids",
    "units_led_by", "update_category", "update_unit", "update_user",
]
