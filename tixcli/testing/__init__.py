"""The backend contract as tests, for tixcli's own backends and third-party ones.

``from tixcli.testing import BackendContract``, subclass it and implement ``make_backend``
(see ``tixcli.testing.contract``). This package needs pytest; nothing in tixcli imports it.
"""

import pytest

# Plain `assert`s in the contract report their values, as in a test module.
pytest.register_assert_rewrite("tixcli.testing.contract")

from tixcli.testing.contract import REFUSABLE, BackendContract, check_schema, requires  # noqa: E402

__all__ = ["REFUSABLE", "BackendContract", "check_schema", "requires"]
