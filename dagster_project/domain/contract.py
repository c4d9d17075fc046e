"""The raw datasets of the contract (docs/CONTRACT.md §1): columns and their types, which may be absent from a
file, and how each dataset is partitioned in the raw folder. The row rules themselves are dbt SQL
(dbt_models/models/intermediate/usage/int_usage__exceptions.sql)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Dataset:
    name: str
    id_col: str
    columns: dict[str, str]  # contract column -> DuckDB type
    optional: frozenset[str] = field(default_factory=frozenset)  # may be absent from a file (then null)
    partition: str = "month"  # folder key: month=YYYY-MM or snapshot_date=YYYY-MM-DD


CALLS = Dataset(
    name="calls",
    id_col="call_id",
    columns={
        "call_id": "VARCHAR", "account_id": "VARCHAR", "user_id": "VARCHAR", "direction": "VARCHAR",
        "started_at": "TIMESTAMP", "answered_at": "TIMESTAMP", "ended_at": "TIMESTAMP",
        "from_number": "VARCHAR", "to_number": "VARCHAR", "disposition": "VARCHAR",
        "forwarded_to": "VARCHAR", "initiated_via": "VARCHAR",
    },
    optional=frozenset({"answered_at", "forwarded_to", "initiated_via"}),
)
MESSAGES = Dataset(
    name="messages",
    id_col="message_id",
    columns={
        "message_id": "VARCHAR", "account_id": "VARCHAR", "user_id": "VARCHAR", "channel": "VARCHAR",
        "direction": "VARCHAR", "sent_at": "TIMESTAMP", "counterparty_number": "VARCHAR", "segments": "INTEGER",
    },
    optional=frozenset({"segments"}),
)
CHATS = Dataset(
    name="chats",
    id_col="chat_message_id",
    columns={
        "chat_message_id": "VARCHAR", "account_id": "VARCHAR", "user_id": "VARCHAR",
        "conversation_id": "VARCHAR", "sent_at": "TIMESTAMP",
    },
)
ACCOUNTS = Dataset(
    name="accounts",
    id_col="account_id",
    columns={
        "account_id": "VARCHAR", "account_name": "VARCHAR", "country": "VARCHAR", "plan": "VARCHAR",
        "declared_contact_center": "BOOLEAN", "surcharge_agreed_on": "DATE",
        "surcharge_rate_per_minute": "DECIMAL(10,4)", "currency": "VARCHAR",
    },
    optional=frozenset({"surcharge_agreed_on", "surcharge_rate_per_minute"}),
    partition="snapshot_date",
)
USERS = Dataset(
    name="users",
    id_col="user_id",
    columns={"user_id": "VARCHAR", "account_id": "VARCHAR", "created_at": "TIMESTAMP", "deactivated_at": "TIMESTAMP"},
    optional=frozenset({"deactivated_at"}),
    partition="snapshot_date",
)
EVENT_DATASETS = (CALLS, MESSAGES, CHATS)
REFERENCE_DATASETS = (ACCOUNTS, USERS)
