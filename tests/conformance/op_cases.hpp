// The op conformance cases live in the rtscope_conformance library, shared
// with the rtscope-conformance tool; test suites include them from here.
#pragma once

#include "rtscope/conformance/op_cases.hpp"
