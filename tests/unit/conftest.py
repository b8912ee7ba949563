import pytest

from preau.sot.generate import generate


@pytest.fixture(scope="session")
def dep():
    """A small valid département: data centre + 3 collèges."""
    return generate(3, pcs=10, printers=2, displays=2, classrooms=4)
