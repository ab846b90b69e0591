-- Schema of data/results/results.duckdb, the contract between the pipeline (stages/)
-- and the browser (detox_tui/). The results stage creates these objects from this file
-- and fills them; the TUI only reads them. A change here is a change of the contract:
-- update the README's results schema section with it.

-- One row per evaluation prompt.
CREATE TABLE prompts (
    prompt_id        VARCHAR PRIMARY KEY,  -- stable id, e.g. 'p000042' (row of the source)
    source           VARCHAR NOT NULL,     -- dataset id or file the prompt came from
    source_row       BIGINT  NOT NULL,     -- row number in that source
    text             VARCHAR NOT NULL,     -- the prompt as written, without chat template
    prompt           VARCHAR NOT NULL,     -- the model input: text wrapped in the chat template
    source_toxicity  DOUBLE                -- toxicity the source ships (RealToxicityPrompts), NULL if none
);

-- One row per generation: a model variant's reply to a prompt.
CREATE TABLE generations (
    generation_id  VARCHAR PRIMARY KEY,  -- '<prompt_id>-<variant>'
    prompt_id      VARCHAR NOT NULL,
    variant        VARCHAR NOT NULL,     -- 'PT' (base model), 'FT' (fine-tuned), 'RL' (reinforced)
    model          VARCHAR NOT NULL,     -- base model id or path
    adapter        VARCHAR,              -- LoRA adapter path, NULL for PT
    text           VARCHAR NOT NULL,     -- generated text, may be empty
    n_tokens       INTEGER NOT NULL      -- number of generated tokens
);

-- Long-form toxicity scores of prompts and generations.
CREATE TABLE scores (
    text_id         VARCHAR NOT NULL,  -- prompt_id or generation_id
    text_kind       VARCHAR NOT NULL,  -- 'prompt' or 'generation'
    scorer          VARCHAR NOT NULL,  -- 'offline', 'hf', 'perspective', '<scorer>-calibrated'
    scorer_version  VARCHAR NOT NULL,  -- package version or model hash; 'archived from FILE' for archived Perspective scores
    attribute       VARCHAR NOT NULL,  -- Perspective attribute name, e.g. 'TOXICITY'
    value           DOUBLE,            -- probability in [0, 1]; NULL when no score was obtained
    reason          VARCHAR            -- why value is NULL; with a value, a note such as 'text truncated to 20480 bytes ...'; else NULL
);

-- Perspective span scores: the score of each part of a scored text, for locating toxic
-- words. The text's own score is the summary score in scores.
CREATE TABLE span_scores (
    text_id         VARCHAR NOT NULL,  -- prompt_id or generation_id
    scorer          VARCHAR NOT NULL,  -- 'perspective'
    scorer_version  VARCHAR NOT NULL,
    attribute       VARCHAR NOT NULL,  -- Perspective attribute name
    "begin"         INTEGER NOT NULL,  -- character offset of the span's start in the scored text
    "end"           INTEGER NOT NULL,  -- character offset just past the span's end
    value           DOUBLE  NOT NULL   -- probability in [0, 1]
);

-- Tokens of the attributed sequence of each generation: prompt tokens, then generated tokens.
CREATE TABLE tokens (
    generation_id  VARCHAR NOT NULL,
    position       INTEGER NOT NULL,  -- 0-based position in prompt + generation
    token          VARCHAR NOT NULL,  -- decoded text of the token
    is_generated   BOOLEAN NOT NULL,  -- false for prompt (and chat template) tokens
    step           INTEGER            -- index among generated tokens, NULL for prompt tokens
);

-- Attribution of each generated token (step) to each earlier token (position).
-- Values are the L2 norm over the hidden size of the method's attribution (input x gradient
-- by default), normalised to sum to 1 over the positions before the step's own token.
CREATE TABLE attributions (
    generation_id  VARCHAR NOT NULL,
    step           INTEGER NOT NULL,
    position       INTEGER NOT NULL,
    value          DOUBLE  NOT NULL
);

-- Per generated token: prompt dependence, entropy and spikes.
CREATE TABLE token_metrics (
    generation_id      VARCHAR NOT NULL,
    step               INTEGER NOT NULL,
    token              VARCHAR NOT NULL,
    probability        DOUBLE,            -- model probability of the token (forced decoding)
    prompt_dependence  DOUBLE  NOT NULL,  -- share of the step's attribution on prompt tokens
    entropy            DOUBLE  NOT NULL,  -- base-2 Shannon entropy of the normalised prompt attribution, bits
    entropy_rise       DOUBLE,            -- entropy minus the previous step's, NULL at step 0
    is_spike           BOOLEAN NOT NULL   -- entropy_rise above analysis.spike_threshold
);

-- The study's toxicity table: one row per variant and prompt subset.
CREATE TABLE toxicity_table (
    variant        VARCHAR NOT NULL,
    subset         VARCHAR NOT NULL,  -- 'all' or 'toxic_prompts' (prompt toxicity > 0.5)
    n              INTEGER NOT NULL,  -- generations in the subset
    n_scored       INTEGER NOT NULL,  -- of which have a score
    mean_toxicity  DOUBLE,
    share_low      DOUBLE,            -- toxicity < 0.33
    share_mid      DOUBLE,            -- 0.33 <= toxicity <= 0.66
    share_high     DOUBLE             -- toxicity > 0.66
);

-- Mean curves over generations, per variant and generated-token step, with 95% intervals.
CREATE TABLE entropy_curves (
    variant                  VARCHAR NOT NULL,
    step                     INTEGER NOT NULL,
    n                        INTEGER NOT NULL,
    entropy_mean             DOUBLE  NOT NULL,
    entropy_ci_low           DOUBLE  NOT NULL,
    entropy_ci_high          DOUBLE  NOT NULL,
    prompt_dependence_mean   DOUBLE  NOT NULL,
    prompt_dependence_ci_low DOUBLE  NOT NULL,
    prompt_dependence_ci_high DOUBLE NOT NULL
);

-- Mean curves per toxicity bucket ('low', 'mid', 'high' of the generation's toxicity) and per
-- bucket transition from a prompt's PT generation to its FT or RL one ('PT high -> FT low').
CREATE TABLE group_curves (
    group_kind                VARCHAR NOT NULL,  -- 'bucket' or 'transition'
    "group"                   VARCHAR NOT NULL,
    variant                   VARCHAR NOT NULL,
    step                      INTEGER NOT NULL,
    n                         INTEGER NOT NULL,
    entropy_mean              DOUBLE  NOT NULL,
    entropy_ci_low            DOUBLE  NOT NULL,
    entropy_ci_high           DOUBLE  NOT NULL,
    prompt_dependence_mean    DOUBLE  NOT NULL,
    prompt_dependence_ci_low  DOUBLE  NOT NULL,
    prompt_dependence_ci_high DOUBLE  NOT NULL
);

-- Attribution bookkeeping per generation: whether re-tokenising its text gives back the
-- stored tokens (attribution always uses the stored ones), and why a matrix is missing.
CREATE TABLE attribution_index (
    generation_id       VARCHAR PRIMARY KEY,
    n_prompt_tokens     INTEGER NOT NULL,
    n_generated_tokens  INTEGER NOT NULL,
    tokens_match        BOOLEAN NOT NULL,
    skip_reason         VARCHAR            -- NULL when the generation was attributed
);

-- Generated tokens marked toxic: from span scores where present, else by the rise of the
-- offline scorer's toxicity over the generation's prefixes (analysis.toxic_rise).
CREATE TABLE toxic_tokens (
    generation_id  VARCHAR NOT NULL,
    step           INTEGER NOT NULL,
    source         VARCHAR NOT NULL   -- 'span scores' or 'offline prefix rise'
);

-- Distance of each spike to the nearest toxic token of its generation, in generated tokens.
CREATE TABLE spike_distances (
    generation_id  VARCHAR NOT NULL,
    step           INTEGER NOT NULL,
    distance       DOUBLE              -- NULL when the generation has no toxic token
);

-- Share of spikes within analysis.spike_window tokens of a toxic token, against spikes
-- moved to random steps of their generation (analysis.n_shuffles times).
CREATE TABLE spike_summary (
    variant                   VARCHAR NOT NULL,  -- 'PT', 'FT', 'RL' or 'all'
    n_spikes                  INTEGER NOT NULL,
    spikes_with_toxic_tokens  INTEGER NOT NULL,
    share_within_k            DOUBLE,
    baseline_share            DOUBLE,
    baseline_low              DOUBLE,            -- 2.5% quantile of the shuffled shares
    baseline_high             DOUBLE,            -- 97.5% quantile
    p_value                   DOUBLE             -- share of shuffles at least as close as observed
);

-- Paired per-prompt differences of per-generation means (variant_b - variant_a), with a
-- percentile bootstrap interval and a sign-flip permutation p-value.
CREATE TABLE comparisons (
    metric      VARCHAR NOT NULL,  -- 'entropy' or 'prompt_dependence'
    variant_a   VARCHAR NOT NULL,
    variant_b   VARCHAR NOT NULL,
    n_pairs     INTEGER NOT NULL,
    difference  DOUBLE,
    ci_low      DOUBLE,
    ci_high     DOUBLE,
    p_value     DOUBLE
);

-- Key-value facts about the run that produced the file (params, versions, primary scorer).
CREATE TABLE run_info (
    key    VARCHAR PRIMARY KEY,
    value  VARCHAR NOT NULL
);

CREATE VIEW spikes AS
SELECT * FROM token_metrics WHERE is_spike;

-- One row per prompt with each variant's toxicity by the primary scorer (run_info
-- 'primary_scorer'), the prompt's own toxicity and the number of spikes over its generations.
CREATE VIEW prompt_overview AS
WITH primary_scores AS (
    SELECT s.text_id, s.value
    FROM scores AS s
    WHERE s.attribute = 'TOXICITY'
      AND s.scorer = (SELECT value FROM run_info WHERE key = 'primary_scorer')
),
variant_scores AS (
    -- only this run's own generations (run_info 'model'): external ones (generate.external)
    -- carry another model; a file without that key keeps every generation
    SELECT g.prompt_id, g.variant, ps.value AS toxicity
    FROM generations AS g
    LEFT JOIN primary_scores AS ps ON ps.text_id = g.generation_id
    WHERE g.model = coalesce((SELECT value FROM run_info WHERE key = 'model'), g.model)
),
spike_counts AS (
    SELECT g.prompt_id, count(*) AS n_spikes
    FROM token_metrics AS tm
    JOIN generations AS g USING (generation_id)
    WHERE tm.is_spike
    GROUP BY g.prompt_id
)
SELECT
    p.prompt_id,
    p.text,
    (SELECT value FROM primary_scores WHERE text_id = p.prompt_id) AS prompt_toxicity,
    max(vs.toxicity) FILTER (WHERE vs.variant = 'PT') AS pt_toxicity,
    max(vs.toxicity) FILTER (WHERE vs.variant = 'FT') AS ft_toxicity,
    max(vs.toxicity) FILTER (WHERE vs.variant = 'RL') AS rl_toxicity,
    coalesce(max(sc.n_spikes), 0) AS n_spikes
FROM prompts AS p
LEFT JOIN variant_scores AS vs USING (prompt_id)
LEFT JOIN spike_counts AS sc USING (prompt_id)
GROUP BY p.prompt_id, p.text;
