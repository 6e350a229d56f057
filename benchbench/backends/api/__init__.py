"""Models behind an OpenAI-compatible endpoint (vLLM, SGLang, TGI, llama.cpp's server,
`transformers serve`, hosted providers): the suite's ``api:`` models. See docs/api-models.md.

``retry.py`` is the retry policy, ``client.py`` one request with its retries and timing,
``backend.py`` the ModelBackend over them. The HTTP work is the `openai` client's (an
optional extra, ``benchbench[api]``), imported when a served model is opened.
"""
