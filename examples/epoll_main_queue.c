/* Hosting GCD's main queue in your own event loop (no dispatch_main): a plain epoll loop
 * serves a socket and the main queue's handle, _dispatch_get_main_queue_handle_4CF().
 * Work sent to the main queue from other threads runs on this thread, between socket
 * events, when the loop calls _dispatch_main_queue_callback_4CF().
 * Build: gcc -std=gnu11 epoll_main_queue.c -Iinclude -Ltarget/release -ldispatch */
#define _GNU_SOURCE
#include <dispatch/dispatch.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MESSAGES = 3 };
static int sockets[2];
static int main_items_run;

static void on_main(void *ctx)
{
    main_items_run++;
    printf("main-queue item %ld on the main thread: %s\n", (long)(intptr_t)ctx,
           gettid() == getpid() ? "yes" : "no");
}

static void producer(void *ctx)
{
    (void)ctx;
    for (long i = 1; i <= MESSAGES; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "message %ld", i);
        if (write(sockets[1], msg, (size_t)n) != n)
            perror("write");
        dispatch_async_f(dispatch_get_main_queue(), (void *)(intptr_t)i, on_main);
        usleep(10000);
    }
}

int main(void)
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sockets) != 0)
        return 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int main_queue_fd = _dispatch_get_main_queue_handle_4CF();
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = sockets[0] };
    epoll_ctl(ep, EPOLL_CTL_ADD, sockets[0], &ev);
    ev.data.fd = main_queue_fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, main_queue_fd, &ev);

    dispatch_async_f(dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), NULL, producer);

    int messages = 0;
    while (messages < MESSAGES || main_items_run < MESSAGES) {
        struct epoll_event ready[4];
        int n = epoll_wait(ep, ready, 4, 5000);
        if (n <= 0) {
            fprintf(stderr, "timed out waiting for events\n");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (ready[i].data.fd == main_queue_fd) {
                _dispatch_main_queue_callback_4CF(NULL);
            } else {
                char buf[64];
                ssize_t got = read(sockets[0], buf, sizeof buf - 1);
                if (got > 0) {
                    buf[got] = 0;
                    printf("socket: %s\n", buf);
                    messages++;
                }
            }
        }
    }
    printf("served %d socket messages and %d main-queue items from one epoll loop\n", messages, main_items_run);
    close(ep);
    return 0;
}
