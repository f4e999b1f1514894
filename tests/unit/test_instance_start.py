"""Two processes opening a fresh PostgreSQL-backed instance at once: the slower one's "already exists" is retried,
any other database error is not."""

import pytest
from sqlalchemy.exc import ProgrammingError

from rai_pipelines.cli.common import _racing_schema_creation


def test_a_schema_another_process_just_created_is_opened_again():
    calls = []

    def open_instance():
        calls.append(1)
        if len(calls) == 1:
            raise ProgrammingError("CREATE TABLE secondary_indexes", {}, Exception('type "secondary_indexes" already exists'))
        return "instance"

    assert _racing_schema_creation(open_instance) == "instance" and len(calls) == 2


def test_other_database_errors_are_not_retried():
    calls = []

    def open_instance():
        calls.append(1)
        raise ProgrammingError("SELECT", {}, Exception("permission denied for schema public"))

    with pytest.raises(ProgrammingError, match="permission denied"):
        _racing_schema_creation(open_instance)
    assert len(calls) == 1
