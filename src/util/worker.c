/*
 * worker.c - a background thread that waits for work and ends at close.
 */
#include "worker.h"
#include "util.h"

#include <pthread.h>

struct evs__worker {
    const evs__worker_ops *ops;
    void *owner;
    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* guards the fields below and the owner's that take reads */
    pthread_cond_t cv;
    bool stop;
};

evs__worker *evs__worker_new(const evs__worker_ops *ops, void *owner)
{
    evs__worker *w = evs__calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->ops = ops;
    w->owner = owner;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    return w;
}

void evs__worker_free(evs__worker *w)
{
    if (!w)
        return;
    evs__worker_finish(w);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    evs__free(w);
}

void evs__worker_lock(evs__worker *w)
{
    pthread_mutex_lock(&w->mu);
}

void evs__worker_unlock(evs__worker *w)
{
    pthread_mutex_unlock(&w->mu);
}

static void *worker_main(void *arg)
{
    evs__worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if ((!w->stop || w->ops->drain) && w->ops->take(w->owner)) {
            pthread_mutex_unlock(&w->mu);
            w->ops->run(w->owner);
            pthread_mutex_lock(&w->mu);
        } else if (w->stop) {
            break;
        } else {
            pthread_cond_wait(&w->cv, &w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

bool evs__worker_wake(evs__worker *w)
{
    if (!w->running && !w->stop)
        w->running = pthread_create(&w->thread, NULL, worker_main, w) == 0;
    if (w->running && !w->stop)
        pthread_cond_signal(&w->cv);
    return w->running && !w->stop;
}

bool evs__worker_stopping(evs__worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    return stop;
}

void evs__worker_finish(evs__worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    bool running = w->running;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (running)
        pthread_join(w->thread, NULL);
    w->running = false;
}
