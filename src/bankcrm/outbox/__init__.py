"""Contact policy (SPEC 5.2) and the message outbox with its dispatcher.

``policy`` is pure (no database): consent, quiet hours, frequency caps and the opt-out line.
``service`` applies it to the database: consent history, turning message tasks into outbox
messages, and the per-message steps the dispatcher runs; ``dispatcher`` is the boundary that
claims messages, commits each step and talks to the gateways.
"""
