/* SPDX-License-Identifier: MIT */
// consumer.cpp — cio from C++17: captureless lambdas are task functions
// (they convert to cio_fn), and no exception may leave one, since the
// loop that called it is C (see README, "C++"). Prints "c++: ok".
#include <cio.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace
{

struct job {
    int id;
    int result;
};

int run_jobs(void *)
{
    std::vector<job> jobs{{1, 0}, {2, 0}, {3, 0}};
    std::vector<cio_task *> tasks;
    for (job &j : jobs) {
        tasks.push_back(cio_create_task(
            [](void *arg) -> int {
                job *self = static_cast<job *>(arg);
                // An exception is caught inside the task and becomes a
                // negative result, cio's form of a failure.
                try {
                    if (cio_sleep(0.001 * self->id) < 0)
                        throw std::runtime_error("sleep failed");
                    self->result = self->id * 10;
                    return 0;
                } catch (const std::exception &) {
                    return -1;
                }
            },
            &j));
    }
    std::vector<int> results(tasks.size());
    int rc = cio_gather(tasks.data(), tasks.size(), results.data());
    if (rc != 0)
        return rc;
    int sum = 0;
    for (const job &j : jobs)
        sum += j.result;
    return sum == 60 ? 0 : 1;
}

} // namespace

int main()
{
    int rc = cio_run(run_jobs, nullptr);
    if (rc == 0)
        std::printf("c++: ok (cio %s)\n", std::string(cio_version_string()).c_str());
    return rc == 0 ? 0 : 1;
}
