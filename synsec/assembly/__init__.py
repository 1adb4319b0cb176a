"""Engine assembly: options → a built Engine (`build`), and the engine's counters as metric families
(`metrics`). Shared by every runner (replay, run, worker, API); imports only the engine and the content loader."""
