# lit configuration of HAT's tool and pass tests.
import os
import lit.formats
from lit.llvm import llvm_config

config.name = "HAT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "unit", "fuzz", "sanitizers", "CMakeLists.txt", "lit.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.hat_obj_root, "test")

# The sanitizer options reach the tools of a sanitized build (test.sh --sanitize).
llvm_config.with_system_environment(["HOME", "TMPDIR", "TMP", "TEMP",
                                     "ASAN_OPTIONS", "UBSAN_OPTIONS",
                                     "LSAN_OPTIONS"])
llvm_config.use_default_substitutions()
# A sanitized tree (HAT_SANITIZE) marks tests that cannot run under ASan
# (an address-space ulimit cannot hold its shadow memory) UNSUPPORTED.
if "address" in getattr(config, "hat_sanitize", ""):
    config.available_features.add("asan")
config.substitutions.append(("%hat_src", config.hat_src_root))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))

# HAT tools first, then FileCheck/not/count from LLVM.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.hat_tools_dir, append_path=True)
