// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "tsvector", schema = "pg_catalog"))]
    pub struct Tsvector;
}

diesel::table! {
    advisor_profiles (user_id) {
        user_id -> Uuid,
        categories -> Array<Text>,
        languages -> Array<Text>,
        capacity -> Int4,
        available -> Bool,
        away_until -> Nullable<Timestamptz>,
        last_assigned_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        open_tickets -> Int4,
        routable -> Bool,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        label -> Text,
        token_hash -> Bytea,
        token_prefix -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    app_secrets (name) {
        name -> Text,
        value -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    attachments (id) {
        id -> Uuid,
        message_id -> Uuid,
        filename -> Text,
        content_type -> Text,
        size -> Int4,
        created_at -> Timestamptz,
        sha256 -> Bytea,
    }
}

diesel::table! {
    bulk_requests (user_id, key) {
        user_id -> Uuid,
        key -> Text,
        request_hash -> Bytea,
        response -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    custom_fields (key) {
        key -> Text,
        label -> Jsonb,
        field_type -> Text,
        options -> Array<Text>,
        required_on -> Nullable<Text>,
        visibility -> Text,
        position -> Int4,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    file_chunks (sha256, n) {
        sha256 -> Bytea,
        n -> Int4,
        data -> Bytea,
    }
}

diesel::table! {
    files (sha256) {
        sha256 -> Bytea,
        size -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> Uuid,
        key -> Text,
        request_hash -> Bytea,
        ticket_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    inbound_emails (id) {
        id -> Uuid,
        message_id -> Text,
        raw_sha256 -> Bytea,
        raw -> Bytea,
        from_address -> Nullable<Text>,
        subject -> Nullable<Text>,
        source -> Text,
        outcome -> Nullable<Text>,
        reason -> Text,
        ticket_id -> Nullable<Uuid>,
        ticket_message_id -> Nullable<Uuid>,
        received_at -> Timestamptz,
        status -> Text,
        attempts -> Int4,
        processed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    messages (id) {
        id -> Uuid,
        ticket_id -> Uuid,
        author_id -> Nullable<Uuid>,
        body -> Text,
        internal -> Bool,
        channel -> Text,
        created_at -> Timestamptz,
        inbound_email_id -> Nullable<Uuid>,
        unverified_sender -> Nullable<Text>,
        saved_reply_id -> Nullable<Uuid>,
        merged_from -> Nullable<Uuid>,
    }
}

diesel::table! {
    office_holidays (office_id, date) {
        office_id -> Uuid,
        date -> Date,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    offices (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        country -> Text,
        time_zone -> Text,
        contact_email -> Text,
        is_regional -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        working_hours -> Jsonb,
    }
}

diesel::table! {
    organizations (id) {
        id -> Uuid,
        name -> Text,
        country -> Text,
        registration_number -> Nullable<Text>,
        contact_email -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        email_domain -> Nullable<Text>,
        email_domain_verified -> Bool,
    }
}

diesel::table! {
    outbox (id) {
        id -> Uuid,
        ticket_id -> Nullable<Uuid>,
        recipient_id -> Uuid,
        kind -> Text,
        details -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        message_id -> Nullable<Text>,
        recipient_email -> Nullable<Text>,
        subject -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        sent_text -> Nullable<Text>,
        snapshot -> Nullable<Jsonb>,
        snapshot_version -> Nullable<Int4>,
    }
}

diesel::table! {
    rate_limit_hits (key, window_start) {
        key -> Text,
        window_start -> Timestamptz,
        hits -> Int4,
    }
}

diesel::table! {
    routing_rules (id) {
        id -> Uuid,
        name -> Text,
        position -> Int4,
        active -> Bool,
        countries -> Array<Text>,
        categories -> Array<Text>,
        priorities -> Array<Text>,
        organization_ids -> Array<Uuid>,
        keywords -> Array<Text>,
        target_office_id -> Nullable<Uuid>,
        target_advisor_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    satisfaction_ratings (ticket_id) {
        ticket_id -> Uuid,
        rated_by -> Uuid,
        rating -> Text,
        comment -> Nullable<Text>,
        rated_at -> Timestamptz,
    }
}

diesel::table! {
    saved_replies (id) {
        id -> Uuid,
        name -> Text,
        category -> Nullable<Text>,
        scope -> Text,
        office_id -> Nullable<Uuid>,
        owner_id -> Uuid,
        bodies -> Jsonb,
        actions -> Jsonb,
        usage_count -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sla_policies (id) {
        id -> Uuid,
        priority -> Text,
        category -> Nullable<Text>,
        first_response_minutes -> Int4,
        resolution_minutes -> Int4,
        warn_at_percent -> Int4,
        breach_action -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    ticket_events (id) {
        id -> Int8,
        ticket_id -> Uuid,
        actor_id -> Nullable<Uuid>,
        kind -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        internal -> Bool,
        details -> Jsonb,
        created_at -> Timestamptz,
        tx -> Int8,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Tsvector;

    tickets (id) {
        id -> Uuid,
        reference -> Int8,
        subject -> Text,
        status -> Text,
        priority -> Text,
        category -> Text,
        country -> Text,
        organization_id -> Uuid,
        requester_id -> Uuid,
        assignee_id -> Nullable<Uuid>,
        office_id -> Uuid,
        channel -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        first_response_at -> Nullable<Timestamptz>,
        resolved_at -> Nullable<Timestamptz>,
        closed_at -> Nullable<Timestamptz>,
        search_vector -> Tsvector,
        follow_up_of -> Nullable<Uuid>,
        sla_policy_id -> Nullable<Uuid>,
        first_response_due_at -> Nullable<Timestamptz>,
        first_response_warn_at -> Nullable<Timestamptz>,
        first_response_warned_at -> Nullable<Timestamptz>,
        first_response_breached_at -> Nullable<Timestamptz>,
        resolution_due_at -> Nullable<Timestamptz>,
        resolution_warn_at -> Nullable<Timestamptz>,
        resolution_warned_at -> Nullable<Timestamptz>,
        resolution_breached_at -> Nullable<Timestamptz>,
        sla_paused_at -> Nullable<Timestamptz>,
        sla_paused_seconds -> Int8,
        first_response_seconds -> Nullable<Int8>,
        resolution_seconds -> Nullable<Int8>,
        tags -> Array<Text>,
        custom_fields -> Jsonb,
        time_spent_minutes -> Int4,
        merged_into -> Nullable<Uuid>,
    }
}

diesel::table! {
    time_entries (id) {
        id -> Uuid,
        ticket_id -> Uuid,
        author_id -> Uuid,
        minutes -> Int4,
        spent_on -> Date,
        note -> Nullable<Text>,
        message_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    uploads (id) {
        id -> Uuid,
        owner_id -> Uuid,
        filename -> Text,
        content_type -> Text,
        size -> Int8,
        sha256 -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        attachment_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        name -> Text,
        email -> Text,
        language -> Text,
        role -> Text,
        office_id -> Nullable<Uuid>,
        organization_id -> Nullable<Uuid>,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        seq -> Int8,
        webhook_id -> Uuid,
        ticket_id -> Nullable<Uuid>,
        event_id -> Nullable<Int8>,
        event_type -> Text,
        occurred_at -> Timestamptz,
        data -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        leased_until -> Nullable<Timestamptz>,
        first_attempt_at -> Nullable<Timestamptz>,
        last_attempt_at -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        last_response -> Nullable<Text>,
        last_error -> Nullable<Text>,
        last_duration_ms -> Nullable<Int4>,
        delivered_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Uuid,
        url -> Text,
        events -> Array<Text>,
        office_id -> Nullable<Uuid>,
        organization_id -> Nullable<Uuid>,
        include_internal -> Bool,
        active -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        disabled_at -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        disabled_notice_sent_at -> Nullable<Timestamptz>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(advisor_profiles -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(attachments -> files (sha256));
diesel::joinable!(attachments -> messages (message_id));
diesel::joinable!(bulk_requests -> users (user_id));
diesel::joinable!(file_chunks -> files (sha256));
diesel::joinable!(idempotency_keys -> tickets (ticket_id));
diesel::joinable!(idempotency_keys -> users (user_id));
diesel::joinable!(inbound_emails -> tickets (ticket_id));
diesel::joinable!(messages -> saved_replies (saved_reply_id));
diesel::joinable!(messages -> users (author_id));
diesel::joinable!(office_holidays -> offices (office_id));
diesel::joinable!(outbox -> tickets (ticket_id));
diesel::joinable!(outbox -> users (recipient_id));
diesel::joinable!(routing_rules -> offices (target_office_id));
diesel::joinable!(routing_rules -> users (target_advisor_id));
diesel::joinable!(satisfaction_ratings -> tickets (ticket_id));
diesel::joinable!(satisfaction_ratings -> users (rated_by));
diesel::joinable!(saved_replies -> offices (office_id));
diesel::joinable!(saved_replies -> users (owner_id));
diesel::joinable!(ticket_events -> tickets (ticket_id));
diesel::joinable!(ticket_events -> users (actor_id));
diesel::joinable!(tickets -> offices (office_id));
diesel::joinable!(tickets -> organizations (organization_id));
diesel::joinable!(tickets -> sla_policies (sla_policy_id));
diesel::joinable!(time_entries -> messages (message_id));
diesel::joinable!(time_entries -> tickets (ticket_id));
diesel::joinable!(time_entries -> users (author_id));
diesel::joinable!(uploads -> attachments (attachment_id));
diesel::joinable!(uploads -> files (sha256));
diesel::joinable!(uploads -> users (owner_id));
diesel::joinable!(users -> offices (office_id));
diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(webhook_deliveries -> ticket_events (event_id));
diesel::joinable!(webhook_deliveries -> tickets (ticket_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhooks -> offices (office_id));
diesel::joinable!(webhooks -> organizations (organization_id));
diesel::joinable!(webhooks -> users (created_by));

diesel::allow_tables_to_appear_in_same_query!(
    advisor_profiles,
    api_tokens,
    app_secrets,
    attachments,
    bulk_requests,
    custom_fields,
    file_chunks,
    files,
    idempotency_keys,
    inbound_emails,
    messages,
    office_holidays,
    offices,
    organizations,
    outbox,
    rate_limit_hits,
    routing_rules,
    satisfaction_ratings,
    saved_replies,
    sla_policies,
    ticket_events,
    tickets,
    time_entries,
    uploads,
    users,
    webhook_deliveries,
    webhooks,
);
