#include <criterion/criterion.h>

#include "rig.h"
