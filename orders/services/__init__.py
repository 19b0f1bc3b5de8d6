"""Write operations of the orders app, one module per concern:

- ``intake``: ``order_create`` used by every entry point (API, webhooks, CSV, manual entry);
- ``lifecycle``: one function per status transition, and ``order_cancel``;
- ``sourcing``: where each line ships from (one function, replaceable by the sourcing issue);
- ``fulfilment``: the order's side of the floor, dispatch and tracking (called by the consumers of
  ``orders/events.py``) and the store counter's hand-over;
- ``handover``: what each location prepares, pushed down to fulfillment;
- ``events``: the orders' domain events (the timeline is these, rendered by ``orders/timeline.py``);
- ``idempotency``: the ``Idempotency-Key`` store of the REST API;
- ``api_keys``: creating and revoking channel API keys;
- ``channels``: saving a channel's settings and the locations that serve it.
"""
