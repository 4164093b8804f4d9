"""Configuration as data: every datasource and connected item as one document
(``GET /api/config``, ``connect-host config export``), and that document applied
to an instance by name (``POST /api/config``, ``connect-host config import``).

:mod:`.references` writes references between items by name, :mod:`.export` builds
the document from the API's own shapes, :mod:`.document` checks a document before
anything is written, :mod:`.importer` applies it in one transaction, and
:mod:`.files` reads and writes it as JSON or YAML.
"""
