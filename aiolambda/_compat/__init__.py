"""Integrations with other libraries, each imported only when that library is in use."""
