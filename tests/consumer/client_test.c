/* A program outside gust's workspace using the HTTP client through its
 * public headers: a request to a port nobody listens on fails with an error
 * that names the URL, which needs every library the client links (BoringSSL,
 * http-parser, liburcu, zlib) to load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gust/client.h"
#include "gust/err.h"

int main(void)
{
    gust_client_t *client = gust_client_new(NULL, NULL);
    if (client == NULL) {
        perror("gust_client_new");
        return 1;
    }
    const char *url = "http://127.0.0.1:1/nothing-here";
    gust_response_t *resp = NULL;
    char *message = NULL;
    int err = gust_http_get(client, url, &resp, &message);
    int ok = err == GUST_ERR_CONNECT_REFUSED && resp == NULL && message != NULL &&
             strstr(message, url) != NULL;
    printf("%s: %s\n", gust_err_name(err), message != NULL ? message : "(no message)");
    free(message);
    gust_client_free(client);
    return ok ? 0 : 1;
}
