/* key.c - names of tunnel types, shared by output and filters. */
#include "key.h"

const char *fs_tunnel_name(unsigned t)
{
    static const char *const names[FS_TUNNEL_COUNT] = { "", "gre", "vxlan", "geneve", "gtp", "ipip", "teredo" };
    return t < FS_TUNNEL_COUNT ? names[t] : "?";
}
