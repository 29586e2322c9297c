// Package server is Joule's OpenAI-compatible HTTP API for one model
// served by an engine.Engine.
//
// Endpoints:
//
//	POST /v1/completions       prompt: a string, strings, token ids or arrays of them
//	POST /v1/chat/completions  messages rendered by a chat format
//	GET  /v1/models, /v1/models/{id}
//	GET  /health               200 while the process serves
//	GET  /ready (/health?ready) 200 when serving, 503 while draining
//	GET  /metrics              Prometheus text format
//
// Requests follow OpenAI's schemas: max_tokens (chat also
// max_completion_tokens), temperature (default 1), top_p, n, stop,
// seed, presence_penalty, frequency_penalty, logit_bias, logprobs
// (completions: top k; chat: logprobs and top_logprobs), echo,
// stream and stream_options.include_usage, plus vLLM's top_k, min_p and
// repetition_penalty. Unknown fields are ignored; known fields of the wrong
// type are refused naming the field. A max_tokens that does not fit the
// context with the prompt is refused, never shortened; without one,
// completions default to 16 tokens and chat to the rest of the context.
// The penalties look at the last 64 tokens, prompt included, as in
// llama-server.
//
// Stop strings are matched on the decoded text; the text ends just before
// the first one, with finish_reason "stop", and the request is cancelled.
// While streaming, text that could be the start of a stop string is held
// back until it is known not to be.
//
// Chat messages (system, developer, user, assistant; text content only)
// are rendered by a built-in format named in Config.ChatTemplate
// (chatml, llama2, llama3) or by Config.RenderChat; the model's own Jinja
// template is not interpreted here, so without either, chat requests are
// refused with a 400 that says how to choose a format.
//
// Errors use OpenAI's shape, {"error": {"message", "type", "param",
// "code"}}: 400 for invalid requests, 401 for a missing or wrong API key,
// 404 for an unknown model or path, 405, 413 for a body over the limit,
// 429 with Retry-After when the engine's queue is full, 503 while
// draining or when the engine shuts down under a request. A stream that
// fails after it began ends with an error event, then [DONE].
//
// Metrics carry vLLM's names and a model_name label, so dashboards built
// for vLLM work: the gauges and counters the engine keeps
// (vllm:num_requests_running, vllm:num_requests_waiting,
// vllm:kv_cache_usage_perc, vllm:cache_config_info,
// vllm:prefix_cache_queries_total, vllm:prefix_cache_hits_total,
// vllm:prompt_tokens_total, vllm:generation_tokens_total,
// vllm:num_preemptions_total) are read at scrape time; the latency
// histograms (vllm:time_to_first_token_seconds,
// vllm:inter_token_latency_seconds and its older name
// vllm:time_per_output_token_seconds, vllm:e2e_request_latency_seconds)
// and vllm:request_success_total by finished_reason are observed by the
// server. joule_* metrics add HTTP request counts, requests refused by the
// engine, engine steps and the KV pool's size.
//
// A client that disconnects has its request cancelled, which frees its
// KV blocks at the engine's next step.
package server
