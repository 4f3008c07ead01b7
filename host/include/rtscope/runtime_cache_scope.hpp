// Kept for code written against earlier releases: runtime_cache now lives
// with the other scopes in rtscope/scopes.hpp.
#pragma once

#include "rtscope/scopes.hpp"
