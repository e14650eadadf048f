WITH moved AS (
    DELETE FROM job_queue RETURNING *
)
INSERT INTO job_queue_archive SELECT * FROM moved;
