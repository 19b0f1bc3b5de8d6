"""Reports and the sales forecast for managers (DESIGN.md, journey step 12).

An app of its own at the top (ARCHITECTURE.md "Apps and why"): they read orders, lines, allocations and
the event log, returns, shipments, stock and locations, write only their own forecast rows and reorder
policies, and nothing imports them. Its modules: ``selectors`` (the reports' figures), ``forecast`` (pure
forecasting maths), ``services`` (the forecast run that writes ``SalesForecast`` rows), ``reorder``
(purchase suggestions), ``tables`` / ``export`` (tables and their CSV / XLSX), ``views`` and ``urls``.
"""
