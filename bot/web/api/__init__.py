"""REST API under ``/api/v1``: the same operations as the UI, for integrations (API keys) and the UI's scripts."""

from fastapi import APIRouter, Depends

from bot.web.api import admin, calls, companies, faq
from bot.web.deps import csrf

router = APIRouter(prefix="/api/v1", dependencies=[Depends(csrf)])
for module in (companies, faq, calls, admin):
    router.include_router(module.router)
