"""Audit schema 2: the verifiable ledger (stored subtrees, signed checkpoints, refused deliveries,
anomalies), the facts the anti-misappropriation checks compare against, and the database roles that
make the ledger append-only for the service itself (R24, R25, R26).

Revision ID: audit_0002
"""
from alembic import op

revision = "audit_0002"
down_revision = "audit_0001"

# Ledger tables: the service may only insert and read them; their owner is a role nobody logs in as,
# because an owner can always drop its own triggers or grant itself UPDATE again.
LEDGER_TABLES = ("ledger_entries", "ledger_nodes", "ledger_checkpoints", "ledger_conflicts", "anomalies")
# Derived state the checks keep; rebuilt from the ledger and the consumed events, so it may change.
WORKING_TABLES = (
    "audit_cursor", "school_books", "school_districts", "school_accounts", "programmes", "fee_schedules",
    "enrolments", "sessions_held", "staff_sessions", "waivers", "student_cash", "disclosure_periods", "disclosures",
)
OWNER = "audit_ledger_owner"
WRITER = "audit_writer"


def _create_role(name: str, options: str) -> None:
    # Roles belong to the whole server and several databases may migrate at once: creating one that
    # another migration has just created is not an error.
    op.execute(f"""
        do $$ begin
          if not exists (select 1 from pg_roles where rolname = '{name}') then
            begin
              create role {name} {options};
            exception when duplicate_object or unique_violation then null;
            end;
          end if;
        end $$;
    """)


def upgrade() -> None:
    op.execute("drop table if exists ledger_head")
    op.execute("""
        alter table ledger_entries
          alter column school_id set not null,
          add column district_id text,
          add column student_id text,
          add column category text not null default 'unknown',
          add column subcategory text,
          add column period text not null default '0000-00',
          add column amount_fen bigint
    """)
    op.execute("alter table ledger_entries alter column category drop default, alter column period drop default")
    for columns in ("school_id, seq", "student_id, seq", "period, seq", "category, seq", "district_id, seq"):
        name = "ix_ledger_entries_" + columns.split(",")[0]
        op.execute(f"create index {name} on ledger_entries ({columns})")

    op.execute("""
        create table ledger_nodes (
          level smallint not null,
          idx bigint not null,
          hash bytea not null,
          primary key (level, idx)
        )
    """)
    op.execute("""
        create table ledger_checkpoints (
          tree_size bigint primary key,
          root_hash bytea not null,
          peaks bytea not null,
          signed_note text not null,
          event_id uuid not null,
          published_at timestamptz not null default now()
        )
    """)
    op.execute("""
        create table ledger_conflicts (
          id bigserial primary key,
          event_id uuid not null,
          body bytea not null,
          leaf_hash bytea not null,
          received_at timestamptz not null default now(),
          unique (event_id, leaf_hash)
        )
    """)
    op.execute("""
        create table anomalies (
          anomaly_id text primary key,
          dedup_key text not null unique,
          check_name text not null,
          severity text not null,
          school_id text not null,
          district_id text,
          student_id text,
          period text,
          amount_fen bigint,
          subject_event_ids uuid[] not null,
          ledger_indexes bigint[] not null,
          ledger_tree_size bigint,
          detail text not null,
          evidence jsonb not null,
          event_id uuid not null,
          detected_at timestamptz not null
        )
    """)
    op.execute("create index ix_anomalies_school on anomalies (school_id, detected_at)")
    op.execute("create index ix_anomalies_check on anomalies (check_name, detected_at)")

    op.execute("create table audit_cursor (id int primary key check (id = 1), checked_size bigint not null)")
    op.execute("insert into audit_cursor values (1, 0)")
    op.execute("""
        create table school_books (
          school_id text primary key, books jsonb not null, as_of_size bigint not null
        )
    """)
    op.execute("create table school_districts (school_id text primary key, district_id text not null)")
    op.execute("create table school_accounts (school_id text, account text, primary key (school_id, account))")
    op.execute("""
        create table programmes (
          programme_id text primary key, school_id text not null, district_id text,
          fee_per_session_fen bigint not null, extended_care_fee_per_session_fen bigint not null
        )
    """)
    op.execute("""
        create table fee_schedules (
          fee_schedule_id text primary key, school_id text not null, programme_id text not null,
          items jsonb not null, effective_from date not null
        )
    """)
    op.execute("""
        create table enrolments (
          student_id text, programme_id text, school_id text not null, hardship boolean not null,
          withdrawn_on date, primary key (student_id, programme_id)
        )
    """)
    op.execute("""
        create table sessions_held (
          school_id text, programme_id text, session_date date, primary key (school_id, programme_id, session_date)
        )
    """)
    op.execute("""
        create table staff_sessions (
          school_id text, staff_id text, session_date date, primary key (school_id, staff_id, session_date)
        )
    """)
    op.execute("""
        create table waivers (
          waiver_id text primary key, charge_id text, reason text not null, amount_fen bigint not null
        )
    """)
    op.execute("create index ix_waivers_charge on waivers (charge_id)")
    op.execute("""
        create table student_cash (
          school_id text, student_id text, deposited_fen bigint not null, claimed_fen bigint not null,
          primary key (school_id, student_id)
        )
    """)
    op.execute("""
        create table disclosure_periods (
          school_id text, period text, starts_on date not null, ends_on date not null, due_on date not null,
          status text not null, primary key (school_id, period)
        )
    """)
    op.execute("create index ix_disclosure_periods_open on disclosure_periods (due_on) where status = 'open'")
    op.execute("""
        create table disclosures (
          disclosure_id text primary key, school_id text not null, period_start date not null, period_end date not null
        )
    """)

    # R24: no one changes or removes what the ledger recorded, through any role that does not bypass
    # triggers (superusers can; that is what the signed checkpoints are for).
    for table in LEDGER_TABLES[1:]:
        op.execute(f"create trigger {table}_no_change before update or delete on {table} "
                   "for each row execute function ledger_entries_append_only()")
        op.execute(f"create trigger {table}_no_truncate before truncate on {table} "
                   "for each statement execute function ledger_entries_append_only()")

    _create_role(OWNER, "nologin")
    _create_role(WRITER, "login")
    op.execute(f"""
        do $$ begin
          execute format('grant usage on schema %I to {WRITER}', current_schema());
        end $$;
    """)
    for table in LEDGER_TABLES:
        op.execute(f"alter table {table} owner to {OWNER}")
        op.execute(f"revoke all on {table} from public")
        op.execute(f"grant select, insert on {table} to {WRITER}")
    op.execute(f"grant usage on sequence ledger_conflicts_id_seq to {WRITER}")
    for table in WORKING_TABLES:
        op.execute(f"grant select, insert, update, delete on {table} to {WRITER}")
    op.execute(f"grant select, insert, delete on outbox to {WRITER}")
    op.execute(f"grant usage on sequence outbox_id_seq to {WRITER}")
    op.execute(f"grant select, insert on inbox to {WRITER}")
