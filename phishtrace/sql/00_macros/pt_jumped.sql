-- A rate that jumped against its value in the previous run: at least doubled and up by 20 points or more.
CREATE OR REPLACE MACRO pt_jumped(now, before) AS (now >= 2 * before AND now - before >= 0.2)
