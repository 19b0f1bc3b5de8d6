"""The integrations' consumers of the domain event log (common/eventlog.py).

- ``webhooks.deliveries``: one delivery row per subscribed endpoint, sent by its own job (webhooks/).
  Ordered: a parked event of an order holds that order's later events, so receivers get an order's events
  in order.
- ``crm.hubspot``: marks the HubSpot contact / deal the event changed, pushed in batches (hubspot/).
"""

from common.eventlog import consumer

from .hubspot.sync import MARKED_CODES, hubspot_mark
from .webhooks.catalogue import DOMAIN_CODES
from .webhooks.services import deliveries_prepare


@consumer("webhooks.deliveries", codes=DOMAIN_CODES, queue="notifications", locks=False)
def webhooks_deliveries(event) -> None:
    deliveries_prepare(event=event)


@consumer("crm.hubspot", codes=MARKED_CODES, queue="notifications", locks=False)
def crm_hubspot(event) -> None:
    hubspot_mark(event=event)
