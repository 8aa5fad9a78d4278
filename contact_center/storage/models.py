"""Every package's models in one metadata for Alembic; the tables live with their owners."""

from autoinformer import models as _autoinformer  # noqa: F401
from contact_center.customers import models as _customers  # noqa: F401
from contact_center.hotline import models as _hotline  # noqa: F401
from contact_center.operators import models as _operators  # noqa: F401
from contact_center.storage.base import Base

metadata = Base.metadata
