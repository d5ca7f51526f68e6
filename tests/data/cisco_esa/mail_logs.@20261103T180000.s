Tue Nov  3 18:30:00 2026 Info: MID 102 released from quarantine "Policy" (manual release by admin)
Tue Nov  3 18:30:00 2026 Info: MID 102 rewritten to 201 by Policy Quarantine
Tue Nov  3 18:30:01 2026 Info: New SMTP DCID 9002 interface 10.0.0.5 address 198.51.100.25 port 25
Tue Nov  3 18:30:01 2026 Info: Delivery start DCID 9002 MID 201 to RID [0, 1]
Tue Nov  3 18:30:02 2026 Info: Message done DCID 9002 MID 201 to RID [0, 1]
Tue Nov  3 18:30:02 2026 Info: MID 201 RID [0, 1] Response '2.6.0 <sim-0202@phish.example.net> Queued mail for delivery'
Tue Nov  3 18:30:03 2026 Info: DCID 9002 close
