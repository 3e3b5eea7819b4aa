"""Reading laminar run files: tables, matrices and activations as pandas and numpy, and the
figures of the report page.

    import laminar
    run = laminar.run("experiments/demo.yaml")      # runs it (laminar run), returns the run file
    run = laminar.open("runs/demo.h5")
    run.stimuli()                                   # one row per stimulus
    run.table("selectivity")                        # as `laminar inspect RUN --table selectivity`
    run.matrix("cosine", "demo-gpt2", "blocks.5.attn.hook_q")   # words on both axes
    values, stimuli = run.activations("demo-gpt2", "blocks.5.attn.hook_q")
    laminar.plot_similarity(run, "cosine", "demo-gpt2").savefig("qk.png")
"""
from .run_file import RunFile, open  # noqa: A004 (laminar.open is the entry point, as h5py.File is)
from .runner import ExperimentError, LaminarError, LaminarWarning, RunError, run, validate  # noqa: F401
from .version import __version__  # noqa: F401
from .figures import (head_table, plot_head_map, plot_histograms, plot_rsa_grid,  # noqa: F401
                      plot_logit_lens, plot_rsa_scatter, plot_similarity)
from .profiles import (plot_cka_profile, plot_dimensionality, plot_mi_profile, plot_prediction_profile,  # noqa: F401
                       plot_profile)
from .rdm_figures import classical_mds, plot_mds, plot_rdms  # noqa: F401
from .findings import finding, format_p  # noqa: F401

__all__ = ["RunFile", "open", "run", "validate", "ExperimentError", "RunError", "LaminarError", "LaminarWarning", "plot_similarity", "plot_histograms", "plot_rsa_scatter", "plot_profile",
           "plot_rsa_grid", "plot_head_map", "head_table", "plot_logit_lens", "plot_cka_profile", "plot_dimensionality",
           "plot_mi_profile", "plot_prediction_profile", "plot_rdms", "plot_mds", "classical_mds", "finding", "format_p"]
