"""Channel connectors: Shopify and WooCommerce webhooks, PrestaShop polling, CSV/XLSX imports, stock push,
fulfilments sent back, and the availability change feed of the REST API.

Every order goes through ``orders.services.intake.order_create`` (same guarantees as the REST API); every
call to a channel runs in a Celery task (``tasks.py``) with timeouts, retries with backoff and an
idempotency guard. An app of its own above ``orders`` (ARCHITECTURE.md "Apps and why"): it uses orders'
intake, lifecycle and sourcing services and reads the event log; nothing below imports it."""
