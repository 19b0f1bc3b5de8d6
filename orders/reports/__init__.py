"""Reports and the sales forecast for managers (DESIGN.md, journey step 12).

They live in ``orders`` because they read orders, lines, allocations and timeline events (this app) and
shipments, stock and locations (``shipping`` and ``inventory``, lower layers ``orders`` may import): the
highest layer whose data they read, and nothing above it (``invoicing``, ``oms``) is needed. A package of
its own keeps them apart from the order intake: ``selectors`` (the reports' figures), ``forecast`` (pure
forecasting maths), ``services`` (the forecast run that writes ``SalesForecast`` rows), ``reorder``
(purchase suggestions), ``tables`` / ``export`` (tables and their CSV / XLSX), ``views`` and ``urls``.
"""
