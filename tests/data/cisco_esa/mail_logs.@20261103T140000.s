Tue Nov  3 14:00:00 2026 Info: URL_REP_CLIENT: Configuration changed. Triggering restart of URL Reputation client service.
Tue Nov  3 14:05:01 2026 Info: New SMTP ICID 5001 interface Management (10.0.0.5) address 203.0.113.10 reverse dns host mail.phish.example.net verified yes
Tue Nov  3 14:05:01 2026 Info: ICID 5001 RELAY SG RELAY_SG match 203.0.113.10 SBRS not enabled
Tue Nov  3 14:05:02 2026 Info: Start MID 101 ICID 5001
Tue Nov  3 14:05:02 2026 Info: MID 101 ICID 5001 From: <Bounce@Phish.Example.NET>
Tue Nov  3 14:05:02 2026 Info: MID 101 ICID 5001 RID 0 To: <Alice@Corp.Example>
Tue Nov  3 14:05:02 2026 Info: MID 101 Message-ID '<sim-0201@Phish.Example.NET>'
Tue Nov  3 14:05:02 2026 Info: MID 101 Subject "Action required: password expiry"
Tue Nov  3 14:05:02 2026 Info: MID 101 ready 4711 bytes from <bounce@phish.example.net>
Tue Nov  3 14:05:02 2026 Info: MID 101 URL https://phish.example.net/login?rid=Ab12Cd3 has reputation 0.0 matched Condition: URL Reputation Rule
Tue Nov  3 14:05:02 2026 Info: MID 101 URL https://safe.example.org/?u=https%3A%2F%2Fphish.example.net%2Flogin%3Frid%3DAb12Cd3 has reputation 0.0 matched Condition: URL Reputation Rule
Tue Nov  3 14:05:02 2026 Info: MID 101 URL https://phish.example.net/static/logo.png has reputation 0.0 matched Condition: URL Reputation Rule
Tue Nov  3 14:05:02 2026 Info: MID 101 matched all recipients for per-recipient policy DEFAULT in the inbound table
Tue Nov  3 14:05:02 2026 Info: MID 101 interim verdict using engine: CASE spam negative
Tue Nov  3 14:05:02 2026 Info: MID 101 queued for delivery
Tue Nov  3 14:05:03 2026 Info: Start MID 102 ICID 5001
Tue Nov  3 14:05:03 2026 Info: MID 102 ICID 5001 From: <bounce@phish.example.net>
Tue Nov  3 14:05:03 2026 Info: MID 102 ICID 5001 RID 0 To: <bob@corp.example>
Tue Nov  3 14:05:03 2026 Info: MID 102 ICID 5001 RID 1 To: <carol@corp.example>
Tue Nov  3 14:05:03 2026 Info: MID 102 Message-ID '<sim-0202@phish.example.net>'
Tue Nov  3 14:05:03 2026 Info: MID 102 Subject 'Team offsite'
Tue Nov  3 14:05:03 2026 Info: MID 102 URL https://phish.example.net/offsite?rid=Bb22Cc3 has reputation 0.0 matched Condition: URL Reputation Rule
Tue Nov  3 14:05:04 2026 Info: MID 102 quarantined to "Policy" (message filter:phish_sim_hold)
Tue Nov  3 14:05:05 2026 Info: Start MID 103 ICID 5001
Tue Nov  3 14:05:05 2026 Info: MID 103 ICID 5001 From: <bounce@phish.example.net>
Tue Nov  3 14:05:05 2026 Info: MID 103 ICID 5001 RID 0 To: <dave@corp.example>
Tue Nov  3 14:05:05 2026 Info: MID 103 Message-ID '<sim-0203@phish.example.net>'
Tue Nov  3 14:05:05 2026 Info: MID 103 Subject Re: invoice\r\n overdue
Tue Nov  3 14:05:06 2026 Info: MID 103 quarantined to "Outbreak" (Outbreak Filters: threat level 4)
Tue Nov  3 14:05:07 2026 Info: Start MID 104 ICID 5001
Tue Nov  3 14:05:07 2026 Info: MID 104 ICID 5001 From: <bounce@phish.example.net>
Tue Nov  3 14:05:07 2026 Info: MID 104 ICID 5001 RID 0 To: <erin@corp.example>
Tue Nov  3 14:05:07 2026 Info: MID 104 Message-ID '<sim-0204@phish.example.net>'
Tue Nov  3 14:05:08 2026 Info: Start MID 105 ICID 5001
Tue Nov  3 14:05:08 2026 Info: MID 105 ICID 5001 From: <bounce@phish.example.net>
Tue Nov  3 14:05:08 2026 Info: MID 105 ICID 5001 RID 0 To: <frank@corp.example>
Tue Nov  3 14:05:08 2026 Info: MID 105 Message-ID '<sim-0205@phish.example.net>'
Tue Nov  3 14:05:09 2026 Info: Start MID 106 ICID 5001
Tue Nov  3 14:05:09 2026 Info: MID 106 ICID 5001 From: <bounce@phish.example.net>
Tue Nov  3 14:05:09 2026 Info: MID 106 ICID 5001 RID 0 To: <grace@corp.example>
Tue Nov  3 14:05:09 2026 Info: MID 106 Message-ID '<sim-0206@phish.example.net>'
Tue Nov  3 14:05:09 2026 Info: ISQ: Tagging MID 106 for quarantine
Tue Nov  3 14:05:10 2026 Info: Start MID 107 ICID 5001
Tue Nov  3 14:05:10 2026 Info: MID 107 ICID 5001 From: <bounce@phish.example.net>
Tue Nov  3 14:05:10 2026 Info: MID 107 ICID 5001 RID 0 To: <heidi@corp.example>
Tue Nov  3 14:05:10 2026 Info: MID 107 Message-ID '<sim-0207@phish.example.net>'
Tue Nov  3 14:05:11 2026 Info: Start MID 108 ICID 5001
Tue Nov  3 14:05:11 2026 Info: MID 108 ICID 5001 From: <bounce@phish.example.net>
Tue Nov  3 14:05:11 2026 Info: MID 108 ICID 5001 RID 0 To: <ivan@corp.example>
Tue Nov  3 14:05:11 2026 Info: MID 108 Message-ID '<sim-0208@phish.example.net>'
Tue Nov  3 14:05:12 2026 Info: Start MID 109 ICID 5001
Tue Nov  3 14:05:12 2026 Info: MID 109 ICID 5001 From: <bounce@phish.example.net>
Tue Nov  3 14:05:12 2026 Info: MID 109 ICID 5001 RID 0 To: <judy@corp.example>
Tue Nov  3 14:05:12 2026 Info: MID 109 Message-ID '<sim-0209@phish.example.net>'
Tue Nov  3 14:05:13 2026 Info: ICID 5001 close
Tue Nov  3 14:05:20 2026 Info: New SMTP DCID 9001 interface 10.0.0.5 address 198.51.100.25 port 25
Tue Nov  3 14:05:20 2026 Info: Delivery start DCID 9001 MID 101 to RID [0]
Tue Nov  3 14:05:21 2026 Info: Message done DCID 9001 MID 101 to RID [0] [('X-SBRS', 'None')]
Tue Nov  3 14:05:21 2026 Info: MID 101 RID [0] Response '2.6.0 <sim-0201@phish.example.net> [InternalId=1] Queued mail for delivery'
Tue Nov  3 14:05:21 2026 Info: Message finished MID 101 done
Tue Nov  3 14:05:22 2026 Info: Delivery start DCID 9001 MID 104 to RID [0]
Tue Nov  3 14:05:22 2026 Info: Bounced: DCID 9001 MID 104 to RID 0 - 5.1.0 - Unknown address error ('550', ['5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup']) []
Tue Nov  3 14:05:23 2026 Info: Delivery start DCID 9001 MID 105 to RID [0]
Tue Nov  3 14:05:23 2026 Info: Delayed: DCID 9001 MID 105 to RID 0 - 4.1.0 - Unknown address error ('466', ['Mailbox temporarily full.'])[]
Tue Nov  3 14:05:23 2026 Info: Message 105 to RID [0] pending till Tue Nov  3 14:15:23 2026
Tue Nov  3 14:05:24 2026 Info: MID 108 RID [0] Response 2.6.0 <sim-0208@phish.example.net> Queued mail for delivery
Tue Nov  3 14:05:25 2026 Info: MID 109 RID [0] done
Tue Nov  3 14:05:30 2026 Info: DCID 9001 close
Tue Nov  3 14:05:31 2026 Warning: Your "IronPort Anti-Spam" key will expire in under 60 day(s). Please contact your authorized Cisco sales representative.
Wed Nov  4 14:05:10 2026 Info: Bounced: DCID 0 MID 107 to RID 0 - 5.4.7 - Delivery expired (message too old) []
Wed Nov  4 16:00:00 2026 Info: MID 103 deleted from quarantine "Outbreak" (expired)
