"""The offline demo that ``make run`` shows a newcomer.

* :mod:`.certs` — a private CA and a loopback server certificate, made once.
* :mod:`.upstream` — a small sample HTTPS API (assets, continents, countries, a
  Jira-shaped search), standard library only.
* :mod:`.seed` — registers that API once as a datasource, with connected items,
  demo users, a project and issues.
* :mod:`.run` — the whole ``make run`` flow in one process.

The submodules are imported on demand, so the sample API runs without Flask.
"""
