"""Groups of outcomes (fct_recipient_outcomes.outcome) that the reports and charts count together."""

# the message reached the inbox (a person's interaction implies it)
IN_INBOX = ("interacted", "delivered")
# no loaded log can say where the message stopped
UNVERIFIED = "unverified"
