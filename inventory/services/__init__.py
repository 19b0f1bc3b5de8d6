"""Write operations of the inventory app: the catalogue and locations (``catalogue``), stock and its ledger
(``stock``), reservations (``reservations``), kits (``kits``).
Import as ``from inventory import services as inventory_services``."""

from .batch import (  # noqa: F401
    Hold,
    allocations_insert,
    allocations_prepare,
    allocations_record,
    stock_hold_groups,
)
from .catalogue import (  # noqa: F401
    PRODUCT_FIELDS,
    catalogue_import_start,
    location_save,
    product_create,
    product_save,
    product_set_active,
)
from .kits import kit_refuse_stock, kit_set_components  # noqa: F401
from .reservations import (  # noqa: F401
    Consumption,
    Reservation,
    allocations_consume_many,
    allocations_put_back,
    allocations_reduce,
    allocations_release,
    allocations_reserve,
    allocations_short,
    stock_reserve_many,
)

# Among these, ``stock_reserve``, ``stock_release``, ``stock_consume``, ``incoming_reserve`` and
# ``incoming_release`` are the counters' primitives (``reservations`` uses all but ``stock_consume``: units
# leave in one set there, ``allocations_consume_many``): other apps go through ``allocations_reserve`` and
# friends, which keep the allocations and the counters together.
from .stock import (  # noqa: F401
    IncomingReceipt,
    incoming_cancel,
    incoming_create,
    incoming_receive,
    incoming_receive_units,
    incoming_release,
    incoming_reserve,
    stock_adjust,
    stock_consume,
    stock_count,
    stock_open,
    stock_receive,
    stock_release,
    stock_reserve,
    stock_return,
    stock_return_write_off,
    stock_transfer,
)
