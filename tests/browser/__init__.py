"""Browser tests: Playwright for Python driving Debian's chromium against a live host."""
