import pytest

from tokens.consumers import DeviceConsumer


@pytest.fixture(autouse=True)
def _no_sockets_left_open():
    """A test communicator that never sends its disconnect would leave its
    socket counted against the address cap for the next test."""
    DeviceConsumer.open_per_address.clear()
    yield
    DeviceConsumer.open_per_address.clear()
