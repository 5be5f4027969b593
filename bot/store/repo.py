"""The store's public API in one import: ``from bot.store import repo``.

Every function takes a SQLAlchemy session first (from :func:`bot.store.db.session_scope`) and commits its own
writes unless told ``commit=False``. The functions live in small modules by topic; this module only gathers them.
"""

from bot.store.calls import (GapGroup, add_turn, call_by_sid, count_calls, faq_gap_groups, finish_call, get_call, list_calls,
                             mark_recording_objected, open_faq_gaps, record_faq_gap, resolve_faq_gaps, set_recording,
                             start_call, update_turn_latency)
from bot.store.companies import (AlreadyExists, NotFound, add_phone, company_for_number, company_profile, company_to_dict,
                                 create_company, ensure_company, get_company, list_companies, remove_phone,
                                 update_company)
from bot.store.messages import get_message, list_messages, mark_called_back, mark_message_done, save_message
from bot.store.outbox import claim_due, mark_failed, mark_sent
from bot.store.privacy import DeletionReport, PurgeReport, delete_caller_data, purge_expired
from bot.store.users import (authenticate, can_access, check_password, create_api_key, create_user, get_user,
                             revoke_api_key, revoke_session, revoke_sessions, session_revoked, set_password,
                             user_for_api_key, visible_company_ids)
from bot.store.validate import InvalidInput

__all__ = [
    "GapGroup", "add_turn", "call_by_sid", "count_calls", "faq_gap_groups", "finish_call", "get_call", "list_calls",
    "mark_recording_objected", "open_faq_gaps", "record_faq_gap", "resolve_faq_gaps", "set_recording", "start_call",
    "update_turn_latency",
    "AlreadyExists", "NotFound", "add_phone", "company_for_number", "company_profile", "company_to_dict", "create_company",
    "ensure_company", "get_company", "list_companies", "remove_phone", "update_company",
    "get_message", "list_messages", "mark_called_back", "mark_message_done", "save_message",
    "claim_due", "mark_failed", "mark_sent",
    "DeletionReport", "PurgeReport", "delete_caller_data", "purge_expired",
    "authenticate", "can_access", "check_password", "create_api_key", "create_user", "get_user", "revoke_api_key", "revoke_session", "revoke_sessions", "session_revoked", "set_password",
    "user_for_api_key", "visible_company_ids",
    "InvalidInput",
]
