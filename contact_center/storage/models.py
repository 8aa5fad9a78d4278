"""Every package's models in one metadata for Alembic; the tables live with their owners."""

from contact_center.customers import models as _customers  # noqa: F401
from contact_center.storage.base import Base

metadata = Base.metadata
