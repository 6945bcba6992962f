/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* A file held to an "only:" list: the socket header and x.h break it. */
#include <string.h>
#include <sys/socket.h>
#include "low/x.h"
