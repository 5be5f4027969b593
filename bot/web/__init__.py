"""FastAPI application: REST API, server-rendered UI, browser call page and telephony webhooks."""
