"""The core's models in one metadata for Alembic; plugins add theirs through `Plugin.schema()`."""

from contact_center import service_state as _service_state  # noqa: F401
from contact_center.customers import models as _customers  # noqa: F401
from contact_center.hotline import models as _hotline  # noqa: F401
from contact_center.operators import models as _operators  # noqa: F401
from contact_center.storage.base import Base
from contact_center.users import models as _users  # noqa: F401

metadata = Base.metadata
