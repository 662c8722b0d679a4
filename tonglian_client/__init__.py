"""Python client SDK for a Tonglian hub: mutual TLS, queries, predicates, watches, offline checks.

from tonglian_client.credentials import Credentials
from tonglian_client.client import AsyncClient      # or tonglian_client.sync.Client

async with AsyncClient("127.0.0.1:50051", Credentials.from_env()) as hub:
    record = await hub.get_record("custom-1/licences/L-1", purpose="business-registration")
"""
